# Unit tests of the Prometheus text helpers (src/util/metrics.c) and the
# --http endpoint (src/net/http.c, on 127.0.0.1).
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

add_executable(test_metrics ${CMAKE_CURRENT_LIST_DIR}/test_metrics.c)
target_link_libraries(test_metrics PRIVATE qfs_util PkgConfig::CMOCKA Threads::Threads)
add_test(NAME unit_metrics COMMAND test_metrics)

add_executable(test_http ${CMAKE_CURRENT_LIST_DIR}/test_http.c)
target_link_libraries(test_http PRIVATE qfs_net qfs_util PkgConfig::CMOCKA Threads::Threads)
add_test(NAME unit_http COMMAND test_http)
set_tests_properties(unit_metrics unit_http PROPERTIES TIMEOUT 120)
