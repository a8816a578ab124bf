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

# hyperion_test(NAME SOURCES x_test.cc DEPS lib ... LABELS unit ... [ARGS --gtest_filter=...])
# A GoogleTest binary registered with CTest, one CTest entry per binary (ARGS go to its command line).
function(hyperion_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  # Designated initializers leave the other fields at their defaults on purpose.
  target_compile_options(${name} PRIVATE -Wall -Wextra -Wno-missing-field-initializers)
  add_test(NAME ${name} COMMAND ${name} ${ARG_ARGS})
  set_tests_properties(${name} PROPERTIES LABELS "unit;${ARG_LABELS}")
endfunction()

# hyperion_postgres_test(TEST ...)
# Tests that talk to the local PostgreSQL server: the fixture postgres_server starts it first (so `make test` and
# `ctest -L postgres` work on a fresh machine), $HYPERION_TEST_POSTGRES_URL names it, and they take turns on it
# (some restart it; each also makes a database of its own). Their labels are set by the caller.
function(hyperion_postgres_test)
  set_tests_properties(${ARGN} PROPERTIES
    FIXTURES_REQUIRED postgres_server
    RESOURCE_LOCK postgres_server
    ENVIRONMENT_MODIFICATION "HYPERION_TEST_POSTGRES_URL=set:${HYPERION_TEST_POSTGRES_URL}")
endfunction()
