# SPDX-License-Identifier: MIT
# libaiod for other projects straight from this build tree, before (or
# without) `make install`: the same CMake package and pkg-config file as an
# install gives, pointing at the build tree's library and the source tree's
# headers. Programs linked through either run without LD_LIBRARY_PATH.
#
#   cmake -DCMAKE_PREFIX_PATH=/path/to/build ...        find_package(aiod)
#   PKG_CONFIG_PATH=/path/to/build/pkgconfig pkg-config --cflags --libs aiod
#
# The package sits where find_package looks under a prefix
# (<prefix>/lib/cmake/aiod). CMake's own build RPATH finds the library for a
# CMake consumer; the .pc file's Libs carry an rpath for everyone else.
set(AIOD_BUILD_TREE_PACKAGE_DIR "${PROJECT_BINARY_DIR}/lib/cmake/aiod")
export(EXPORT aiodTargets NAMESPACE aiod:: FILE "${AIOD_BUILD_TREE_PACKAGE_DIR}/aiodTargets.cmake")
configure_package_config_file("${PROJECT_SOURCE_DIR}/packaging/aiodConfig.cmake.in"
                              "${AIOD_BUILD_TREE_PACKAGE_DIR}/aiodConfig.cmake"
                              INSTALL_DESTINATION "${AIOD_BUILD_TREE_PACKAGE_DIR}" INSTALL_PREFIX "${PROJECT_BINARY_DIR}")
write_basic_package_version_file("${AIOD_BUILD_TREE_PACKAGE_DIR}/aiodConfigVersion.cmake"
                                 VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMinorVersion)

# pkg-config: the installed file's template with this tree's paths.
set(AIOD_PC_PREFIX "${PROJECT_BINARY_DIR}")
set(AIOD_PC_LIBDIR "$<TARGET_FILE_DIR:aiod_client>")
set(AIOD_PC_INCLUDEDIR "${PROJECT_SOURCE_DIR}/client/include")
set(AIOD_PC_RPATH " -Wl,-rpath,\${libdir}")
configure_file("${PROJECT_SOURCE_DIR}/packaging/aiod.pc.in" "${PROJECT_BINARY_DIR}/packaging/aiod-build-tree.pc.in" @ONLY)
file(GENERATE OUTPUT "${PROJECT_BINARY_DIR}/pkgconfig/aiod.pc" INPUT "${PROJECT_BINARY_DIR}/packaging/aiod-build-tree.pc.in")
