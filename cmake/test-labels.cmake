# test-labels.cmake — the labels of the tests (included by CMakeLists.txt after every test
# is defined). `ctest -L unit` is the quick loop (under a minute); `ctest -LE slow` is the
# README's suite without the slow one; `ctest -L LABEL` runs one area.
#   unit     fast tests of the library and the app layer, and of the generated docs
#   golden   comparisons with the golden data of ../shared/fixtures
#   kernels  the numeric kernels of every ISA the CPU runs, at several thread counts
#   cli      the aesthete command as a user runs it
#   pipeline the scoring pipeline and loading only the towers a command needs
#   server   an HTTP server on loopback (aesthete serve, or the test server of fetch/hub)
#   browser  the web page in headless Chromium (skipped when it is not installed)
#   install  cmake --install, pkg-config, the .deb, man pages and completions
#   slow     two full-size models at three precisions (~1 min)
#   fuzz     fuzz targets, where a section of CMakeLists.txt adds them to CTest
# A label is added to the tests that exist (a test renamed away is no error here); a test
# left without one is named at configure time.
function(ae_label label)
  foreach(t ${ARGN})
    if(TEST ${t})
      set_property(TEST ${t} APPEND PROPERTY LABELS ${label})
    endif()
  endforeach()
endfunction()

ae_label(unit test_cache test_classlist test_clip test_config test_cull test_head test_hub
  test_image test_model test_nn test_pickle test_plot test_ratings test_safetensors
  test_score test_solver test_stats test_tiles test_tokenizer test_xmp
  test_man test_completion_bash test_completion_zsh test_completion_fish)
ae_label(golden test_b32 test_clip test_config test_image test_model test_tokenizer
  test_score test_head test_pickle test_cli test_fidelity)
ae_label(kernels test_nn test_tiles test_quant test_photo test_fidelity)
ae_label(cli test_cli test_cull_cli test_rank test_train test_verify test_usability test_faults)
ae_label(pipeline test_pipeline test_towers test_shard_parquet)
ae_label(unit test_shard)
ae_label(cluster test_shard_cli test_shard_embed test_shard_cull test_shard_out test_shard_stream test_shard_wds test_shard_slurm)
ae_label(server test_server test_fetch test_hubdl test_browser test_soak)
ae_label(browser test_browser)
ae_label(install test_install test_deb test_man test_completion_bash test_completion_zsh
  test_completion_fish)
ae_label(slow test_fidelity)

get_property(AE_ALL_TESTS DIRECTORY PROPERTY TESTS)
foreach(t ${AE_ALL_TESTS})
  get_test_property(${t} LABELS l)
  if(NOT l)
    message(WARNING "test ${t} has no label: give it one in cmake/test-labels.cmake")
  endif()
endforeach()
