# Fails when a module includes a header of a module it must not depend on.
# Allowed edges (DESIGN.md): base <- verify <- store <- transfer <- mirror,
# repo-server; formats (upstream repository formats, pure parsing) <- transfer
# (package changes), mirror, repo-server. The airlock-verify program (verify/tools) also reads bundles
# through transfer, and vendor indices through formats to prove site indices.
# Usage: cmake -DROOT=<source dir> -P check-layering.cmake
cmake_minimum_required(VERSION 3.25)
if(NOT ROOT)
  message(FATAL_ERROR "check-layering: pass -DROOT=<source dir>")
endif()

set(allowed_base base)
set(allowed_verify base verify)
set(allowed_verify_tools base verify formats store transfer)
set(allowed_formats base verify formats)
set(allowed_store base verify store)
set(allowed_transfer base verify formats store transfer)
set(allowed_mirror base verify formats store transfer mirror)
set(allowed_repo base verify formats store transfer repo)
set(module_dirs base verify formats store transfer mirror repo-server)

set(violations "")
foreach(dir IN LISTS module_dirs)
  file(GLOB_RECURSE sources ${ROOT}/${dir}/*.h ${ROOT}/${dir}/*.cpp)
  foreach(src IN LISTS sources)
    set(key ${dir})
    if(dir STREQUAL "repo-server")
      set(key repo)
    endif()
    if(dir STREQUAL "verify" AND src MATCHES "/verify/tools/")
      set(key verify_tools)
    endif()
    file(STRINGS ${src} includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]airlock/")
    foreach(line IN LISTS includes)
      string(REGEX MATCH "airlock/([a-z_-]+)/" _ "${line}")
      set(target_module ${CMAKE_MATCH_1})
      if(NOT target_module IN_LIST allowed_${key})
        file(RELATIVE_PATH rel ${ROOT} ${src})
        list(APPEND violations "${rel}: includes airlock/${target_module}/ (allowed: ${allowed_${key}})")
      endif()
    endforeach()
  endforeach()
endforeach()

if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "module layering violated:\n  ${text}")
endif()
