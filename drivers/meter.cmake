# The energy meter drivers (meter.h, issue 17): meter.c dispatches to them and
# holds the Eastron presets; Modbus TCP on libmodbus, a command that prints
# JSON (jansson), a counter file. The Shelly (HTTP) driver adds its own file
# here when it is built.
list(APPEND LAB_DRIVER_SOURCES
  meter.c
  meter-modbus.c
  meter-command.c
  meter-file.c)
# GLOBAL: the Modbus test peer (tests/meter/modbus-peer.c) links it too.
pkg_check_modules(MODBUS REQUIRED IMPORTED_TARGET GLOBAL libmodbus>=3.1.6)
list(APPEND LAB_DRIVER_LIBRARIES PkgConfig::MODBUS PkgConfig::JANSSON)
