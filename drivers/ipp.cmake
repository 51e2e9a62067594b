# The IPP driver (libcups): CUPS queues and IPP Everywhere printers.
list(APPEND LAB_DRIVER_SOURCES printer-ipp.c)
