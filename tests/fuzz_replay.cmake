# SPDX-License-Identifier: MIT
# The fuzz corpus as ctest tests, in every build (gcc too, no libFuzzer):
# one replay executable per fuzz target (fuzz/replay_main.c runs
# LLVMFuzzerTestOneInput on a file) and one test per file in
# fuzz/corpus/<target>/. Included from tests/CMakeLists.txt.
include(${CMAKE_CURRENT_LIST_DIR}/../fuzz/targets.cmake)

foreach(t ${TLP_FUZZ_TARGETS})
  add_executable(${t}_replay ${TLP_FUZZ_DIR}/replay_main.c ${TLP_FUZZ_SOURCES_${t}})
  target_link_libraries(${t}_replay PRIVATE tlpool::static)
  target_include_directories(${t}_replay PRIVATE ${TLP_FUZZ_DIR})
  tlp_warnings(${t}_replay)
  file(GLOB seeds CONFIGURE_DEPENDS ${TLP_FUZZ_DIR}/corpus/${t}/*)
  foreach(seed ${seeds})
    get_filename_component(seed_name ${seed} NAME)
    add_test(NAME fuzz_replay.${t}.${seed_name} COMMAND ${t}_replay ${seed})
    set_tests_properties(fuzz_replay.${t}.${seed_name} PROPERTIES TIMEOUT 60 LABELS fuzz)
  endforeach()
endforeach()
