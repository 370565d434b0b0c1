# Per-test needs beyond the glob in tests/CMakeLists.txt.

# Buffer pool tests: the double-free / write-after-free death tests exist only
# in checked builds, so they must know whether the library is checked.
foreach(t test_bufpool test_bufpool_threads)
  if(TARGET ${t})
    target_compile_definitions(${t} PRIVATE $<$<BOOL:${TLP_CHECKED}>:TLP_CHECKED>)
  endif()
endforeach()

# The libuv adapter test needs tlpool::uv (built only when libuv is found);
# without it the test compiles to a single skipped case.
if(TARGET test_uv_adapter)
  if(TARGET tlpool::uv)
    target_link_libraries(test_uv_adapter PRIVATE tlpool::uv)
    target_compile_definitions(test_uv_adapter PRIVATE TLP_HAVE_UV)
  endif()
endif()

# TLP_SCOPED unwound by a C++ exception through C code: the C half is
# compiled with -fexceptions (without it C has no cleanups to run on unwind).
if(TARGET test_scoped_cxx)
  target_sources(test_scoped_cxx PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/scoped_c_unwind.c)
  set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/scoped_c_unwind.c
    PROPERTIES COMPILE_OPTIONS "-fexceptions")
endif()

# The scoped macro in C again through the out-of-line calls (TLP_NO_INLINE).
if(TARGET test_scoped)
  add_executable(test_scoped_noinline ${CMAKE_CURRENT_SOURCE_DIR}/test_scoped.c)
  target_link_libraries(test_scoped_noinline PRIVATE tlpool::tlpool)
  target_compile_definitions(test_scoped_noinline PRIVATE TLP_NO_INLINE)
  tlp_warnings(test_scoped_noinline)
  add_test(NAME test_scoped_noinline COMMAND test_scoped_noinline)
endif()
