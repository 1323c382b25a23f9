# wrk's --latency summary on stdin -> one line, for scripts/soak.sh and bench/serve_bench.sh:
#   awk -v format=row  -f scripts/lib/wrk_summary.awk  -> "requests req/s p50_ms p99_ms non_2xx socket_errors"
#   awk -v format=json -f scripts/lib/wrk_summary.awk  -> {"requests":..,"requests_per_second":..,"p50_ms":..,...}
# wrk prints latencies with their unit (us, ms, s); both formats give milliseconds.
function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
/^ +50%/ { p50 = ms($2) }
/^ +99%/ { p99 = ms($2) }
/^Requests\/sec:/ { rps = $2 }
/ requests in / { total = $1 }
/Non-2xx/ { bad = $NF }
/Socket errors/ { err = $0 }
END {
  if (format == "json")
    printf "{\"requests\":%d,\"requests_per_second\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"non_2xx\":%d,\"socket_errors\":\"%s\"}", total, rps, p50, p99, bad, err
  else
    printf "%d %.0f %.2f %.2f %d %s\n", total, rps, p50, p99, bad, err
}
