# results-table.jq -- the Markdown table of `make bench` (bench/results.md and
# the README's table) from bench/results.json. Used by tools/bench.sh, which
# also re-renders a kept results.json with `tools/bench.sh --render`.
def n: if . == null then "–" else (. | round | tostring | if length > 3 then
    [explode | reverse | _nwise(3) | reverse | implode] | reverse | join(",") else . end) end;
def f2: if . == null then "–" else ((. * 100 | round) / 100 | tostring) end;
def lat: "\(.p50_ms | f2) / \(.p99_ms | f2) / \(.max_ms | f2)";
def runs: if (.runs // []) | length > 1 then " (median of \(.runs | length) runs: \([.runs[] | n] | join(", ")))" else "" end;
# Lost / dup; messages still not received after the final drain (a backlog
# that had not drained, as opposed to ids skipped) are named apart.
def loss: (.missing_after_final_drain // 0) as $m |
    if $m > 0 then
    "\(.lost_total | n) (\(.lost_total - $m | n) skipped, \($m | n) not received 5 s after the last step) / \(.duplicated_total // "–")"
    else "\(.lost_total // "–") / \(.duplicated_total // "–")" end;
def cpu: "\(.client_cpu | f2)";
# CPU of each watched program per login or message (µs), then that of the
# load generator: "login-fcgi 290, postgres 200, ..., load generator 40".
def progs($unit; $per_s): (.programs_cpu // {}) as $p |
    [($p | to_entries[] | "\(.key) \(.value["us_per_" + $unit] | n)"),
     (if $per_s > 0 then "load generator \(.client_cpu * 1e6 / $per_s | n)" else empty end)] |
    join(", ");
def failed_conns: if . == null or .failed == null then "–" else "\(.failed) of \(.conns)" end;
def nextfail: ([.steps[]? | select(.ok | not)] | first) as $f |
    if $f == null then "every step passed" else
    "first failing step (\($f.senders) sender\(if $f.senders == 1 then "" else "s" end)): \($f.fail_reason); \($f.deliveries_per_s | n)/s, p99 \($f.p99_ms | f2) ms, \($f.delivered_share * 100 | f2) % delivered, loadgen CPU \($f.client_cpu | f2)" end;
def under50: ([.steps[]? | select(.ok and .p99_ms < 50)] | last) as $u |
    if $u == null then "no step had p99 under 50 ms" else
    "p99 under 50 ms up to \($u.deliveries_per_s | n)/s (\($u.senders) sender\(if $u.senders == 1 then "" else "s" end), p99 \($u.p99_ms | f2) ms)" end;
# Steps during which every task of the machine waited 50 ms or more for
# the disk (PSI "io full"): a commit waits with them, and so does delivery.
def iostalls: [.steps[]? | select((.io_stall_ms // 0) >= 50)] |
    if length == 0 then "" else
    "; the disk stalled every task (PSI io full) at " +
    (map("\(.deliveries_per_s | n)/s (\(.io_stall_ms | n) ms)") | join(", ")) end;
def steprow($id; $what; $target):
    .scenarios[$id] as $s | ($s.last_good) as $g |
    if $s == null or $s.error then "| \($id) | \($what) | not run | \($target) | | | | | |" else
    "| \($id) | \($what) | " +
    (if $g == null then ($s.steps[0]? // null) as $f |
      if $f == null then "no step ran" else
      "no step passed: the first (\($f.senders) sender\(if $f.senders == 1 then "" else "s" end)) delivered \($f.deliveries_per_s | n)/s with p99 \($f.p99_ms | f2) ms" end else
      "\($g.deliveries_per_s | n) deliveries/s (\($g.senders) sender\(if $g.senders == 1 then "" else "s" end) × \($g.rate_per_sender | f2) msg/s)" end) +
    " | \($target) | \(if $g then ($g | lat) else "–" end) | \($s | loss) | \($s | failed_conns) | \(if $g then ($g | cpu) else "–" end) | \($s | under50); \($s | nextfail)\($s | iostalls)\(if $g.programs_cpu then "; CPU per message sent at the last good step (µs): " + ($g | progs("message"; $g.messages_per_s)) else "" end) |" end;
def erow($id; $e; $what; $target): ($e.steps[0]? // null) as $s |
    if $e == null or $e.error or $s == null then "| \($id) | publish throughput\($what) | not run | \($target) | | | | | |" else
    "| \($id) | publish throughput, \($s.senders) senders in \($e.rooms) rooms, window \($s.window), straight to the relay\($what) | \($s.messages_per_s | n) messages/s committed\($e | runs) | \($target) | \($s | lat) | \($e | loss) | \($e | failed_conns) | \($s | cpu) | \($e.database.rows | n) rows in PostgreSQL over \($e.database.rooms | n) rooms, ids gap-free: \($e.database.gap_free)\(if $s.programs_cpu then "; CPU per message (µs): " + ($s | progs("message"; $s.messages_per_s)) else "" end) |" end;
.scenarios as $sc |
"# make bench results",
"",
"\(.date), commit \(.commit), \(.machine.cores) cores: \(.machine.cpu_model) (Linux \(.machine.kernel)); load average before the run: \(.machine.loadavg_at_start).",
"Release build, loopback, PostgreSQL with fsync on and synchronous_commit on by default (login-fcgi turns it off for its login statement); relay, nginx, PostgreSQL and the load generator share the machine.",
"",
"| | Scenario | Result | Target | Latency p50 / p99 / max (ms) | Lost / dup | Failed conns | Loadgen CPU (cores) | Notes |",
"|---|---|---|---|---|---|---|---|---|",
steprow("a"; "1 room, 1,000 clients, through nginx"; "≥ 1,500,000/s, p99 < 50 ms"),
steprow("bare"; "(a) against tools/bare-relay: no storage, no sessions"; "– (the ceiling of a on this machine)"),
steprow("b"; "100 rooms × 10 clients, through nginx"; "–"),
($sc.c as $c | if $c == null or $c.error then "| c | idle connections | not run | ≤ 2,048 B | | | | | |" else
 "| c | \($c.conns | n) idle connections, straight to the relay | \($c.relay_rss_per_conn_bytes | n) B of relay RSS per connection | ≤ 2,048 B | – | – | \($c | failed_conns) | – | RSS \($c.relay_rss_before_kb | n) → \($c.relay_rss_after_kb | n) KiB; connected in \($c.connect_seconds | f2) s; \($c.still_open | n) still open after the hold |" end),
($sc.d as $d | if $d == null or $d.error or $d.logins == null then "| d | logins | not run | ≥ 5,000/s | | | | | |" else
 "| d | logins through nginx, 32 clients (real /login) | \($d.logins_per_s | n) logins/s\($d | runs) | ≥ 5,000/s | \($d | lat) | – | \($d.failed) failed logins | \($d | cpu) | median run: \($d.logins | n) logins in \($d.seconds | f2) s; \($d.database.sessions // "–" | n) sessions in PostgreSQL for \($d.logins_total // $d.logins | n) logins\(if $d.programs_cpu then "; CPU per login (µs): " + ($d | progs("login"; $d.logins_per_s)) else "" end) |" end),
erow("e"; $sc.e; ""; "≥ 50,000/s"),
erow("e, no search index"; $sc.e_nosearch; " (the text search of issue #6, its blocks and index, dropped)"; "– (what the search costs)"),
"",
"Latency is end to end: scheduled send time to receipt, measured by the load generator on one clock. Lost / dup are totals over the whole run of a scenario: ids a receiver skipped or still lacked 5 s after the last step while another member of its room had them, and ids seen twice or out of order; both must be 0 in the relay's rows. See docs/bench.md."
