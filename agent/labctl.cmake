# labctl: the technicians' console (docs/control.md), included from
# agent/CMakeLists.txt.
#
# labctl talks to the daemon over its control socket only, so it links
# jansson and curses and nothing of labcore: no libvips, SQLite or libcurl
# in a console that lab IT may install on a technician's shell account.
# The format functions are a library of their own so that the unit tests
# (tests/labctl) run exactly the code labctl prints with.

# ncursesw (UTF-8 text on screen) where there is one, else plain ncurses.
pkg_check_modules(NCURSESW IMPORTED_TARGET ncursesw)
if(NCURSESW_FOUND)
  set(LABCTL_CURSES PkgConfig::NCURSESW)
  set(LABCTL_CURSES_DEFS LABCTL_NCURSESW=1)
else()
  pkg_check_modules(NCURSES REQUIRED IMPORTED_TARGET ncurses)
  set(LABCTL_CURSES PkgConfig::NCURSES)
  set(LABCTL_CURSES_DEFS)
endif()

# Pure: daemon answers to terminal text (unit-tested, no I/O but a FILE *).
add_library(labctlformat STATIC labctl-format.c rfc3339.c)
target_include_directories(labctlformat PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(labctlformat PUBLIC PkgConfig::JANSSON)

add_executable(labctl labctl.c labctl-client.c labctl-top.c)
target_link_libraries(labctl PRIVATE labctlformat ${LABCTL_CURSES})
target_compile_definitions(labctl PRIVATE LABAGENT_VERSION="${PROJECT_VERSION}"
                           ${LABCTL_CURSES_DEFS})

install(TARGETS labctl DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/packaging/man/labctl.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
