# One place for the C++ warning set: spsec_warnings(<target>) applies it.
function(spsec_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wcast-align -Wcast-qual
    -Werror=undef -Wnon-virtual-dtor -Wold-style-cast -Wnull-dereference -Wimplicit-fallthrough)
  if(SPSEC_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
