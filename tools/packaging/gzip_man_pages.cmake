# CPack pre-build script (CPACK_PRE_BUILD_SCRIPTS in packaging.cmake): gzips
# every man page in the staging folder, as Debian's policy wants
# (/usr/share/man/man1/hm-serve.1.gz); -n leaves out the time stamp so that
# the same sources give the same package.
file(GLOB_RECURSE files ${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*)
list(FILTER files INCLUDE REGEX "/share/man/man[1-9]/[^/]+\\.[1-9]$")
foreach(page ${files})
  execute_process(COMMAND gzip -9nf ${page} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip ${page} failed: ${rc}")
  endif()
endforeach()
