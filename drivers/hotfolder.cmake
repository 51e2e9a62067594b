# The hot-folder driver: minilab hot folders in several formats.
# printer-hotfolder.c is the shared part (handle, inotify, stall, atomic
# publication); each format lays out its submissions in its own file.
list(APPEND LAB_DRIVER_SOURCES
  printer-hotfolder.c
  hotfolder-generic.c
  hotfolder-noritsu.c
  hotfolder-dnp.c)
