# Helpers that keep each folder's CMakeLists.txt to a few lines.

# hyperion_library(NAME SOURCES a.cc b.cc DEPS other_lib ...)
# A static library hyperion_NAME whose headers are included as "hyperion/NAME/x.h".
function(hyperion_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(hyperion_${name} STATIC ${ARG_SOURCES})
  target_include_directories(hyperion_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(hyperion_${name} PUBLIC ${ARG_DEPS})
  target_compile_options(hyperion_${name} PRIVATE -Wall -Wextra -Wpedantic)
endfunction()

# hyperion_test(NAME SOURCES x_test.cc DEPS lib ... LABELS unit ...)
# A GoogleTest binary registered with CTest, one CTest entry per binary.
function(hyperion_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  # Designated initializers leave the other fields at their defaults on purpose.
  target_compile_options(${name} PRIVATE -Wall -Wextra -Wno-missing-field-initializers)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "unit;${ARG_LABELS}")
endfunction()
