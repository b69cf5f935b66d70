# SPDX-License-Identifier: MIT
# check_layers.cmake — refuses an #include that goes up the daemon's layers.
#
# Run as a script: cmake -DROOT=<daemon dir> -DLAYERS="os;system;..." [-DSTAMP=<file>] -P check_layers.cmake
# LAYERS lists the folders of ROOT from the lowest to the highest. A file in
# a folder may include headers of its own folder and of the folders before it
# in the list, never of one after it. Files at the top of ROOT (main, the
# daemon, settings) may include any folder. Fails with every offending line;
# on success touches STAMP, if given, so the build reruns the check only when
# a source changes.
if(NOT DEFINED ROOT OR NOT DEFINED LAYERS)
  message(FATAL_ERROR "check_layers.cmake: ROOT and LAYERS are required")
endif()

get_filename_component(ROOT "${ROOT}" ABSOLUTE)
set(errors "")
list(LENGTH LAYERS layer_count)
foreach(level RANGE 0 ${layer_count})
  if(level EQUAL layer_count)
    break()
  endif()
  list(GET LAYERS ${level} layer)
  file(GLOB_RECURSE sources "${ROOT}/${layer}/*.cpp" "${ROOT}/${layer}/*.hpp" "${ROOT}/${layer}/*.h")
  foreach(source IN LISTS sources)
    file(STRINGS "${source}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"[^\"]+\"")
    foreach(line IN LISTS includes)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\".*" "\\1" header "${line}")
      string(REGEX MATCH "^[^/]+" folder "${header}")
      if(header STREQUAL folder)
        continue()  # no folder: a proto/ or system header
      endif()
      list(FIND LAYERS "${folder}" target_level)
      if(target_level GREATER level)
        file(RELATIVE_PATH shown "${ROOT}" "${source}")
        string(APPEND errors "  ${shown}: #include \"${header}\" (${layer} may not include ${folder})\n")
      endif()
    endforeach()
  endforeach()
endforeach()

if(errors)
  string(REPLACE ";" " → " order "${LAYERS}")
  message(FATAL_ERROR "includes against the layer order (${order}):\n${errors}")
endif()
if(DEFINED STAMP)
  file(TOUCH "${STAMP}")
endif()
