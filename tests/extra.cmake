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

# Leak reports name functions through dladdr: the test's own functions must
# be in its dynamic symbol table (-rdynamic).
if(TARGET test_leaks)
  set_target_properties(test_leaks PROPERTIES ENABLE_EXPORTS ON)
endif()
