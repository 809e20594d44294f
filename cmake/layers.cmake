# Layer libraries whose include roots enforce the allowed direction of #include.
#
# kiln_layer(<name> FOLDERS <source folders> [DEPENDS <lower layers>] [GLOBS <patterns>]
#            [SOURCES <extra sources>] [LIBS <public libs>] [PRIVATE_LIBS <private libs>])
# builds the static library kiln_<name> from <folder>/*.cpp (or GLOBS, relative to the
# source root; *_test.cpp excluded; CONFIGURE_DEPENDS so new files are picked up). Its only
# include root is a "view": a folder in the build tree holding symlinks to its own
# FOLDERS and to those of its DEPENDS (transitively), laid out as in the source tree, so
# `#include "agent/engine/engine.h"` from a lower layer finds no such file.
set(KILN_LAYER_VIEWS ${CMAKE_BINARY_DIR}/layer_views)

# Folders that are layers of their own inside another layer's folder (controller/image
# inside controller): a view of the outer folder must not show them.
set(KILN_NESTED_LAYER_FOLDERS controller/image)

# kiln_include_view(<view> <folders...>): (re)creates ${KILN_LAYER_VIEWS}/<view> holding
# a symlink to each source folder, at the same relative path. A folder holding a nested
# layer's folder becomes a real folder of links to its entries, without the nested one
# (linked only when the view names it too).
function(kiln_include_view view)
  set(root ${KILN_LAYER_VIEWS}/${view})
  file(REMOVE_RECURSE ${root})
  file(MAKE_DIRECTORY ${root})
  list(SORT ARGN)  # parents before the folders inside them
  foreach(folder IN LISTS ARGN)
    if(IS_SYMLINK ${root}/${folder} OR IS_DIRECTORY ${root}/${folder})
      continue()
    endif()
    get_filename_component(parent ${root}/${folder} DIRECTORY)
    file(MAKE_DIRECTORY ${parent})
    set(nested)
    foreach(inner IN LISTS KILN_NESTED_LAYER_FOLDERS)
      if(inner MATCHES "^${folder}/")
        list(APPEND nested ${inner})
      endif()
    endforeach()
    if(NOT nested)
      file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${folder} ${root}/${folder} SYMBOLIC)
      continue()
    endif()
    file(MAKE_DIRECTORY ${root}/${folder})
    file(GLOB entries RELATIVE ${CMAKE_SOURCE_DIR}/${folder} LIST_DIRECTORIES true ${CMAKE_SOURCE_DIR}/${folder}/*)
    foreach(entry IN LISTS entries)
      if(NOT "${folder}/${entry}" IN_LIST nested)
        file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${folder}/${entry} ${root}/${folder}/${entry} SYMBOLIC)
      endif()
    endforeach()
  endforeach()
endfunction()

function(kiln_layer name)
  cmake_parse_arguments(L "" "" "FOLDERS;DEPENDS;GLOBS;SOURCES;LIBS;PRIVATE_LIBS" ${ARGN})
  set(patterns)
  if(L_GLOBS)
    foreach(pattern IN LISTS L_GLOBS)
      list(APPEND patterns ${CMAKE_SOURCE_DIR}/${pattern})
    endforeach()
  else()
    foreach(folder IN LISTS L_FOLDERS)
      list(APPEND patterns ${CMAKE_SOURCE_DIR}/${folder}/*.cpp)
    endforeach()
  endif()
  file(GLOB sources CONFIGURE_DEPENDS ${patterns})
  list(FILTER sources EXCLUDE REGEX "_test\\.cpp$")

  set(visible ${L_FOLDERS})
  set(lower_targets)
  foreach(dependency IN LISTS L_DEPENDS)
    if(NOT TARGET kiln_${dependency})
      message(FATAL_ERROR "layer ${name}: declare layer ${dependency} before it")
    endif()
    list(APPEND visible ${KILN_LAYER_VISIBLE_${dependency}})
    list(APPEND lower_targets kiln_${dependency})
  endforeach()
  list(REMOVE_DUPLICATES visible)
  set(KILN_LAYER_VISIBLE_${name} ${visible} PARENT_SCOPE)
  kiln_include_view(${name} ${visible})

  add_library(kiln_${name} STATIC ${sources} ${L_SOURCES})
  # PRIVATE: a layer's view is not handed to the layers above (they have their own).
  target_include_directories(kiln_${name} PRIVATE ${KILN_LAYER_VIEWS}/${name})
  target_link_libraries(kiln_${name} PUBLIC ${lower_targets} ${L_LIBS} PRIVATE ${L_PRIVATE_LIBS})
endfunction()
