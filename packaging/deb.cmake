# The Debian package spsec-linux, made by CPack's DEB generator from the install rules above:
# scripts/build-deb.sh BUILD_DIR OUT_DIR [ARCH] (docs/packaging.md says why CPack and not
# debhelper). Installed under /usr; maintainer scripts in packaging/deb/.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME spsec-linux)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "spsec-linux maintainers <spsec-linux@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "SPsec for CAN FD: tc eBPF data plane, spsecd and spsecctl")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "SPsec secures CAN FD traffic with a Security Stamp (freshness and AEAD tag) per frame.\n\
A tc eBPF data plane stamps and checks frames on the CAN interface; the daemon spsecd runs the\n\
control plane (keys, time sync, heartbeats, Configurator sessions) and spsecctl inspects and\n\
commissions nodes. Start with /usr/share/doc/spsec-linux/operations.md.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # spsec-linux_<version>_<arch>.deb
# The package's prefix is /usr whatever the build's CMAKE_INSTALL_PREFIX is. DESTDIR staging,
# so install-time paths (the unit's ExecStart=, spsec-setup's own prefix) name /usr, not the
# staging directory.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# Run-time library dependencies from dpkg-shlibdeps (DEB_HOST_ARCH selects the architecture's
# libraries; build-deb.sh sets it), plus the tools spsec-setup and the maintainer scripts run.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "iproute2, kmod, passwd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "can-utils")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "wireshark | tshark")
# The architecture: build-deb.sh passes it (-D CPACK_DEBIAN_PACKAGE_ARCHITECTURE=...); CPack's
# default is `dpkg --print-architecture` of the build host.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_SOURCE_DIR}/deb/postinst
    ${CMAKE_CURRENT_SOURCE_DIR}/deb/prerm
    ${CMAKE_CURRENT_SOURCE_DIR}/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
