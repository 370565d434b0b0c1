# SPDX-License-Identifier: MIT
# Warnings for the project's own targets: tlp_warnings(<target>)
function(tlp_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wno-unused-parameter
    $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes -Wmissing-prototypes>
    $<$<BOOL:${TLP_WERROR}>:-Werror>)
endfunction()
