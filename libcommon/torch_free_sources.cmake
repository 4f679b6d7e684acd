# The precompiled <torch/types.h> only where a source uses torch. A target
# that reuses it (target_precompile_headers REUSE_FROM hm_torch) would
# otherwise force it into every one of its sources, and loading it costs a
# torch-free source several seconds of compiling. Most of hm_bench and its
# tests, for example, never include torch.
#
# hm_skip_pch_where_torch_free(TARGET): every .cpp source of TARGET that
# reaches no torch header (<torch/...>, <ATen/...>, <c10/...>) through its
# includes gets SKIP_PRECOMPILE_HEADERS. Includes are followed through
# libcommon's headers (include/ and src/) and headers beside the source; a
# source that later starts to include torch only compiles slower until the
# next configure, never wrongly.

# hm_uses_torch(FILE OUT): OUT is TRUE when FILE reaches a torch header.
# Answers are kept (global properties), each file is read once.
function(hm_uses_torch file out)
  get_property(known GLOBAL PROPERTY "HM_USES_TORCH:${file}" SET)
  if(known)
    get_property(result GLOBAL PROPERTY "HM_USES_TORCH:${file}")
    set(${out} ${result} PARENT_SCOPE)
    return()
  endif()
  set_property(GLOBAL PROPERTY "HM_USES_TORCH:${file}" FALSE)  # while visiting: cycles end here
  set(result FALSE)
  file(STRINGS ${file} includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  get_filename_component(dir ${file} DIRECTORY)
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"].*" "\\1" header "${line}")
    if(header MATCHES "^(torch|ATen|c10)/")
      set(result TRUE)
      break()
    endif()
    foreach(candidate ${dir}/${header} ${PROJECT_SOURCE_DIR}/libcommon/include/${header}
                      ${PROJECT_SOURCE_DIR}/libcommon/src/${header})
      if(EXISTS ${candidate} AND NOT IS_DIRECTORY ${candidate})
        hm_uses_torch(${candidate} reaches)
        if(reaches)
          set(result TRUE)
        endif()
        break()
      endif()
    endforeach()
    if(result)
      break()
    endif()
  endforeach()
  set_property(GLOBAL PROPERTY "HM_USES_TORCH:${file}" ${result})
  set(${out} ${result} PARENT_SCOPE)
endfunction()

function(hm_skip_pch_where_torch_free target)
  get_target_property(sources ${target} SOURCES)
  get_target_property(source_dir ${target} SOURCE_DIR)
  foreach(source IN LISTS sources)
    if(NOT source MATCHES "\\.cpp$")
      continue()
    endif()
    get_filename_component(path ${source} ABSOLUTE BASE_DIR ${source_dir})
    hm_uses_torch(${path} uses)
    if(NOT uses)
      set_source_files_properties(${source} TARGET_DIRECTORY ${target}
                                  PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
    endif()
  endforeach()
endfunction()
