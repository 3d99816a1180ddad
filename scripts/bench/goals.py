"""The summary of `make bench`: every goal with its ratio against the reference of the same run.

    python3 goals.py RESULTS

RESULTS holds "name value" lines written by the benchmark scripts (see `result` in lib.sh, and
bench-jose.sh's "goal" lines). A goal whose figures are missing (a benchmark failed or was skipped)
is printed as "not measured". Exits 0 whether goals are met or not: this reports, it does not judge.
"""
import sys

figures = {}
jose_goals = []
disturbed = []
for line in open(sys.argv[1]):
    parts = line.split()
    if not parts:
        continue
    if parts[0] == "goal":            # goal met|missed VALUE TARGET LABEL
        jose_goals.append((parts[4].replace("_", " "), float(parts[2]), float(parts[3])))
    elif parts[0] == "disturbed":
        disturbed.append(parts[1])
    else:
        figures[parts[0]] = float(parts[1])


def ratio(numerator, denominator):
    if numerator in figures and denominator in figures and figures[denominator] > 0:
        return figures[numerator] / figures[denominator]
    return None


rss_peaks = {name: value for name, value in figures.items() if name.startswith("rss_peak_")}
idle_held = figures.get("idle_connections_held")
# (label, value, comparison, target, unit)
goals = [
    ("GET /healthz / nginx fixed 200 (-t1 -c64)", ratio("http_healthz_rps", "http_nginx_rps"), ">=", 1.5),
    ("HTTPS keep-alive GET /healthz / nginx, TLS 1.3 ECDSA", ratio("https_keepalive_rps", "https_nginx_keepalive_rps"), ">=", 0.8),
    ("HTTPS new TLS 1.3 handshakes / nginx", ratio("https_handshake_rps", "https_nginx_handshake_rps"), ">=", 0.8),
    ("opaque introspection / nginx fixed 200 (-t1 -c64)", ratio("introspect_opaque_c64_rps", "nginx_c64_rps"), ">=", 0.5),
    ("opaque introspection p99 at -c2 (ms)", figures.get("introspect_opaque_c2_p99_ms"), "<", 1.0),
    ("client_credentials ES256 / openssl speed -multi 2 ecdsap256", ratio("token_es256_rps", "openssl_multi2_ecdsap256_sign"), ">=", 0.25),
    ("client_credentials RS256 / openssl speed -multi 2 rsa2048", ratio("token_rs256_rps", "openssl_multi2_rsa2048_sign"), ">=", 0.7),
    ("refresh rotation / pgbench, same statements", ratio("refresh_rps", "refresh_pgbench_tps"), ">=", 0.8),
    ("token exchange (issue 17) / client_credentials, ES256 JWTs", ratio("token_exchange_jwt_rps", "token_es256_rps"), ">=", 0.7),
    ("peak RSS during the run, every server (MiB)", max(rss_peaks.values()) if rss_peaks else None, "<", 64),
    (f"RSS with {int(idle_held) if idle_held else 10000} idle keep-alive connections (MiB)", figures.get("rss_idle_connections_mb"), "<", 256),
]
goals += [(label + " (JWS, one thread)", value, ">=", target) for label, value, target in jose_goals]
# The instruction-count analogue of each JOSE ratio (bench-jose.sh): the share of a JWS operation's
# instructions spent inside OpenSSL's signature primitive.
jose_shares = {name[len("jose_"):-len("_share")].replace("_jws", " JWS").replace("_", " "): value
               for name, value in figures.items() if name.startswith("jose_") and name.endswith("_share")}

print("\nGoals (issue 14 item 6, and item 4 for JOSE), each against a reference measured in this run")
for label, value, comparison, target in goals:
    if value is None:
        print(f"  {label:<66}{'':>8}  goal {comparison} {target:g}: not measured")
        continue
    met = value >= target if comparison == ">=" else value < target
    print(f"  {label:<66}{value:>8.2f}  goal {comparison} {target:g}: {'met' if met else 'missed'}")
if jose_shares:
    print("  (JWS instructions inside OpenSSL's primitive: "
          + ", ".join(f"{name} {value:.2f}" for name, value in sorted(jose_shares.items())) + ")")
if "token_es256_rps" in figures:
    print(f"  {'(client_credentials ES256 / 10.3 k/s, the rate when the goal of 2.5x was set)':<66}{figures['token_es256_rps'] / 10300:>8.2f}")
if rss_peaks:
    print("  peak RSS by benchmark (MiB): " + ", ".join(f"{name[len('rss_peak_'):-len('_mb')]} {value:.1f}" for name, value in sorted(rss_peaks.items())))
if disturbed:
    print(f"  WARNING: other jobs disturbed these benchmarks: {', '.join(disturbed)}")

counts = [(name[len("instructions_"):], value) for name, value in figures.items() if name.startswith("instructions_")]
if counts:
    print("\nInstructions per request (callgrind; compare with earlier runs in BENCHMARKS.md)")
    for name, value in counts:
        print(f"  {name:<66}{value:>12,.0f}")
