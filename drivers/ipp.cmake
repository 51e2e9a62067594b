# The IPP driver (libcups): CUPS queues and IPP Everywhere printers.
# printer-ipp.c talks to printers; ipp-attrs.c turns their answers into our
# structs without I/O (unit-tested in tests/printer-ipp).
list(APPEND LAB_DRIVER_SOURCES printer-ipp.c ipp-attrs.c ipp-ppd.c)
