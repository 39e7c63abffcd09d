int khugepaged(void) { return 0; }
