# The energy meter drivers (meter.h, issue 17): meter.c dispatches to them and
# holds the Eastron presets; Modbus TCP on libmodbus, Shelly Gen2 RPC (JSON by
# jansson, HTTP through the transport its settings hand over: drivers link no
# libcurl), a command that prints JSON (jansson), a counter file.
list(APPEND LAB_DRIVER_SOURCES
  meter.c
  meter-modbus.c
  meter-shelly.c
  meter-command.c
  meter-file.c)
# GLOBAL: the Modbus test peer (tests/meter/modbus-peer.c) links it too.
pkg_check_modules(MODBUS REQUIRED IMPORTED_TARGET GLOBAL libmodbus>=3.1.6)
list(APPEND LAB_DRIVER_LIBRARIES PkgConfig::MODBUS PkgConfig::JANSSON)
