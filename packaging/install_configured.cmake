# Run by `cmake --install` (packaging/CMakeLists.txt): writes the unit template and spsec-setup
# with the installed paths and installs them. CMAKE_INSTALL_PREFIX is the install-time prefix;
# file(INSTALL) prepends $DESTDIR like every other install rule.
foreach(v SBINDIR BINDIR DOCDIR DATADIR UNITDIR)
  if(IS_ABSOLUTE "${SPSEC_${v}}")
    set(${v} "${SPSEC_${v}}")
  else()
    set(${v} "${CMAKE_INSTALL_PREFIX}/${SPSEC_${v}}")
  endif()
  # The paths go into a shell script and a unit file between double quotes / unquoted.
  if("${${v}}" MATCHES "[\"$`\\ \t\n]")
    message(FATAL_ERROR "install path '${${v}}' has a character spsec-setup cannot quote")
  endif()
endforeach()
# One staging dir per destination: two installs at once (cpack and a plain install) must not
# write each other's files.
string(MD5 dest "$ENV{DESTDIR}|${CMAKE_INSTALL_PREFIX}")
set(SPSEC_STAGE_DIR "${SPSEC_STAGE_DIR}/${dest}")
file(MAKE_DIRECTORY "${SPSEC_STAGE_DIR}")

# config/spsecd.service names the paths spsec-setup --binaries uses (/usr/local); the installed
# unit names where this install put spsecd and the docs.
file(READ "${SPSEC_SOURCE_DIR}/config/spsecd.service" unit)
foreach(from "ExecStart=/usr/local/sbin/spsecd " "file:/usr/local/share/doc/spsec-linux/operations.md")
  string(FIND "${unit}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "config/spsecd.service has no '${from}' to point at the installed path")
  endif()
endforeach()
string(REPLACE "ExecStart=/usr/local/sbin/spsecd " "ExecStart=${SBINDIR}/spsecd " unit "${unit}")
string(REPLACE "file:/usr/local/share/doc/spsec-linux/" "file:${DOCDIR}/" unit "${unit}")
file(WRITE "${SPSEC_STAGE_DIR}/spsecd@.service" "${unit}")
file(INSTALL DESTINATION "${UNITDIR}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${SPSEC_STAGE_DIR}/spsecd@.service")

# spsec-setup: its INSTALLED_* line says where the package's files are (empty in a checkout).
file(READ "${SPSEC_SOURCE_DIR}/scripts/spsec-setup" setup)
set(marker "INSTALLED_SBINDIR=\"\" INSTALLED_BINDIR=\"\" INSTALLED_DOCDIR=\"\" INSTALLED_DATADIR=\"\" INSTALLED_UNITDIR=\"\"")
string(FIND "${setup}" "${marker}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "scripts/spsec-setup has no line '${marker}'")
endif()
string(REPLACE "${marker}"
       "INSTALLED_SBINDIR=\"${SBINDIR}\" INSTALLED_BINDIR=\"${BINDIR}\" INSTALLED_DOCDIR=\"${DOCDIR}\" INSTALLED_DATADIR=\"${DATADIR}\" INSTALLED_UNITDIR=\"${UNITDIR}\""
       setup "${setup}")
file(WRITE "${SPSEC_STAGE_DIR}/spsec-setup" "${setup}")
file(INSTALL DESTINATION "${SBINDIR}" TYPE PROGRAM
     PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                 WORLD_READ WORLD_EXECUTE
     FILES "${SPSEC_STAGE_DIR}/spsec-setup")
file(REMOVE_RECURSE "${SPSEC_STAGE_DIR}")
