# The hot-folder driver: minilab hot folders in several formats.
list(APPEND LAB_DRIVER_SOURCES printer-hotfolder.c)
