# SPDX-License-Identifier: MIT
# What `cmake --install` puts where. Each file belongs to one component, and
# each Debian package (packaging/build-debs.sh) is exactly one component:
#   daemon   aiod, aioctl, systemd units, the sysusers.d entry, man pages,
#            shell completions
#   runtime  libaiod.so.1 (the library and its SONAME link)
#   dev      headers, libaiod.so, aiod.pc, the CMake package (aiod::client),
#            the documentation and the examples
# The targets' own install() rules sit beside them (daemon/, client/).
include(CMakePackageConfigHelpers)

# --- systemd -------------------------------------------------------------------
# Under the /usr prefix, the directories the system's systemd reads (systemd.pc:
# Debian 12 keeps system units in /lib/systemd/system); under any other prefix,
# the same layout inside it (systemd also reads /usr/local/lib/systemd/...).
set(_aiod_system_unitdir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
set(_aiod_user_unitdir "${CMAKE_INSTALL_PREFIX}/lib/systemd/user")
set(_aiod_sysusersdir "${CMAKE_INSTALL_PREFIX}/lib/sysusers.d")
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  foreach(pair "system_unitdir;systemdsystemunitdir" "user_unitdir;systemduserunitdir"
               "sysusersdir;sysusersdir")
    list(GET pair 0 name)
    list(GET pair 1 variable)
    pkg_get_variable(_aiod_value systemd ${variable})
    if(_aiod_value)
      set(_aiod_${name} "${_aiod_value}")
    endif()
  endforeach()
endif()
set(AIOD_SYSTEMD_SYSTEM_UNITDIR "${_aiod_system_unitdir}" CACHE PATH "where aiod.service and aiod.socket go")
set(AIOD_SYSTEMD_USER_UNITDIR "${_aiod_user_unitdir}" CACHE PATH "where the user units go")
set(AIOD_SYSUSERSDIR "${_aiod_sysusersdir}" CACHE PATH "where the sysusers.d entry (aiod.conf) goes")

# The units name /usr/sbin/aiod and /etc/aiod/aiod.conf; an install
# elsewhere gets its own paths.
foreach(unit aiod.service aiod.socket user/aiod.service user/aiod.socket)
  set(source "${PROJECT_SOURCE_DIR}/systemd/${unit}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${source}")
  file(READ "${source}" text)
  string(REPLACE "/usr/sbin/aiod" "${CMAKE_INSTALL_FULL_SBINDIR}/aiod" text "${text}")
  string(REPLACE "/etc/aiod/aiod.conf" "${CMAKE_INSTALL_FULL_SYSCONFDIR}/aiod/aiod.conf" text "${text}")
  file(WRITE "${PROJECT_BINARY_DIR}/systemd/${unit}" "${text}")
endforeach()
install(FILES "${PROJECT_BINARY_DIR}/systemd/aiod.service" "${PROJECT_BINARY_DIR}/systemd/aiod.socket"
        DESTINATION "${AIOD_SYSTEMD_SYSTEM_UNITDIR}" COMPONENT daemon)
install(FILES "${PROJECT_BINARY_DIR}/systemd/user/aiod.service" "${PROJECT_BINARY_DIR}/systemd/user/aiod.socket"
        DESTINATION "${AIOD_SYSTEMD_USER_UNITDIR}" COMPONENT daemon)
install(FILES "${PROJECT_SOURCE_DIR}/systemd/aiod.sysusers" RENAME aiod.conf
        DESTINATION "${AIOD_SYSUSERSDIR}" COMPONENT daemon)

# The system daemon's configuration (ExecStart= passes --config), all
# defaults commented out. A conffile in the Debian package.
install(FILES "${PROJECT_SOURCE_DIR}/packaging/aiod.conf"
        DESTINATION "${CMAKE_INSTALL_FULL_SYSCONFDIR}/aiod" COMPONENT daemon)

# --- man pages -----------------------------------------------------------------
install(FILES "${PROJECT_SOURCE_DIR}/docs/man/aiod.8" DESTINATION "${CMAKE_INSTALL_MANDIR}/man8" COMPONENT daemon)
install(FILES "${PROJECT_SOURCE_DIR}/docs/man/aioctl.1" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1" COMPONENT daemon)
install(FILES "${PROJECT_SOURCE_DIR}/docs/man/aiod.conf.5" DESTINATION "${CMAKE_INSTALL_MANDIR}/man5" COMPONENT daemon)

# The unit's choices and the threat model explained; aiod(8) and aiod.conf(5) point here.
install(FILES "${PROJECT_SOURCE_DIR}/docs/systemd.md" "${PROJECT_SOURCE_DIR}/docs/security.md"
        DESTINATION "${CMAKE_INSTALL_DOCDIR}" COMPONENT daemon)

# --- shell completions -----------------------------------------------------------
# Where bash-completion and Debian's zsh look for them, named after the
# command; each installed when packaging/completions/ has it (the glob makes
# a new one show up at the next build).
file(GLOB _aiod_completions CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/packaging/completions/*")
foreach(command aiod aioctl)
  set(_aiod_file "${PROJECT_SOURCE_DIR}/packaging/completions/${command}.bash")
  if(_aiod_file IN_LIST _aiod_completions)
    install(FILES "${_aiod_file}" RENAME ${command}
            DESTINATION "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" COMPONENT daemon)
  endif()
  set(_aiod_file "${PROJECT_SOURCE_DIR}/packaging/completions/_${command}")
  if(_aiod_file IN_LIST _aiod_completions)
    install(FILES "${_aiod_file}" DESTINATION "${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions" COMPONENT daemon)
  endif()
endforeach()

# --- documentation and examples for users of libaiod ---------------------------
# README.md, docs/*.md with the images they show (same relative paths, so
# the links between them hold) and the examples, with a CMakeLists.txt that
# builds them against the installed package (packaging/examples/).
set(AIOD_DEV_DOCDIR "${CMAKE_INSTALL_DATADIR}/doc/libaiod-dev" CACHE PATH
    "where the documentation and examples for libaiod's users go")
install(FILES "${PROJECT_SOURCE_DIR}/README.md" DESTINATION "${AIOD_DEV_DOCDIR}" COMPONENT dev)
file(GLOB _aiod_docs CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/docs/*.md" "${PROJECT_SOURCE_DIR}/docs/*.png"
     "${PROJECT_SOURCE_DIR}/docs/*.svg")
install(FILES ${_aiod_docs} DESTINATION "${AIOD_DEV_DOCDIR}/docs" COMPONENT dev)
file(GLOB _aiod_examples CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/examples/*.cpp")
install(FILES ${_aiod_examples} "${PROJECT_SOURCE_DIR}/packaging/examples/CMakeLists.txt"
        DESTINATION "${AIOD_DEV_DOCDIR}/examples" COMPONENT dev)

# --- libaiod for other projects --------------------------------------------------
# find_package(aiod) then target_link_libraries(app PRIVATE aiod::client).
# 0.x: a new minor version may change the API, so only the same minor matches.
set(AIOD_CMAKE_PACKAGE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/aiod")
install(EXPORT aiodTargets NAMESPACE aiod:: DESTINATION "${AIOD_CMAKE_PACKAGE_DIR}" COMPONENT dev)
configure_package_config_file("${PROJECT_SOURCE_DIR}/packaging/aiodConfig.cmake.in"
                              "${PROJECT_BINARY_DIR}/packaging/aiodConfig.cmake"
                              INSTALL_DESTINATION "${AIOD_CMAKE_PACKAGE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/packaging/aiodConfigVersion.cmake"
                                 VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/packaging/aiodConfig.cmake" "${PROJECT_BINARY_DIR}/packaging/aiodConfigVersion.cmake"
        DESTINATION "${AIOD_CMAKE_PACKAGE_DIR}" COMPONENT dev)

# pkg-config: `pkg-config --cflags --libs aiod`. Paths relative to the prefix
# stay relative to ${prefix} in the file, so PKG_CONFIG_SYSROOT_DIR and
# --define-prefix both work.
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(AIOD_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(AIOD_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
set(AIOD_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(AIOD_PC_RPATH "")
configure_file("${PROJECT_SOURCE_DIR}/packaging/aiod.pc.in" "${PROJECT_BINARY_DIR}/packaging/aiod.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/packaging/aiod.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig" COMPONENT dev)

include("${CMAKE_CURRENT_LIST_DIR}/build_tree_package.cmake")
