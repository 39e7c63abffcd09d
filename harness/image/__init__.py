"""Guest images from public Debian packages: initramfs, root disks, cloud images, guest binaries."""
