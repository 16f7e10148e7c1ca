"""make bench, benchmark 1: sequential status checks against nginx, our
client:poll vs libcurl easy (C; bare, and with the request headers our
client sends), multi_socket (C), python3 http.client and the curl CLI;
interleaved rounds, the best round of each reported."""
import statistics

import peers
from clients import default_user_agent, easy, easy_py, kv, run
from report import say, target
from settings import BASELINE, BASELINE_REV, LUA, ROUNDS, SECS, core_env, have_baseline


SAME_HEADERS = "libcurl easy + the same request headers (C)"


def bench_sequential(port):
    url = "http://127.0.0.1:%d/v2/video/generations?generation_id=x" % port
    base = "http://127.0.0.1:%d/v2" % port
    big = "100000000"
    ua = default_user_agent()
    clients = {
        "lua-omnihuman client:poll": lambda: kv(run([LUA, "bench/client.lua", "poll", base, big, str(SECS)],
                                                    SECS + 30)),
        "libcurl easy, 1 handle (C)": lambda: easy("easy", url, big, SECS),
        # Our status GET carries Authorization and User-Agent, which curl
        # formats anew on every request: the same work, for comparison.
        SAME_HEADERS: lambda: easy("easyh", url, big, SECS, ua),
        "libcurl multi_socket+epoll, 1 handle (C, diagnostic)": lambda: easy("multi", url, big, SECS),
        "python3 http.client+json": lambda: easy_py(port, SECS),
    }
    # lua-omnihuman on the other interpreter, and the Lua clients a user would
    # pick instead (bench/peers.py), in the same rounds.
    for name, interp, env in peers.ours()[1:]:
        clients[name] = (lambda i, e: lambda: kv(run(peers.ours_cmd(i, base, big, SECS), SECS + 30, env=e)))(
            interp, env)
    for name, interp, env, lib in peers.peers():
        clients[name] = (lambda i, e, lb: lambda: kv(run(peers.poll_cmd(i, lb, url, big, SECS, ua), SECS + 30,
                                                          env=e)))(interp, env, lib)
    # The module as it was at the baseline revision, in the same rounds: what
    # this round of work changed, measured side by side.
    before = "lua-omnihuman client:poll at %s (before)" % BASELINE_REV
    if have_baseline():
        clients[before] = lambda: kv(run([LUA, "bench/client.lua", "poll", base, big, str(SECS)], SECS + 30,
                                         env=core_env(BASELINE)))
    samples = {k: [] for k in clients}
    for r in range(ROUNDS):
        for name, fn in clients.items():
            samples[name].append(fn())
    curl_secs = max(SECS, 3.0)
    samples["curl CLI spawned per request"] = [easy("spawn", url, "1000", curl_secs)]

    def med(name):
        xs = samples[name]
        rps = max(x["requests"] / x["wall"] for x in xs)
        cpu = min(x["cpu"] / x["requests"] * 10000 for x in xs)
        mcpu = statistics.median(x["cpu"] / x["requests"] * 10000 for x in xs)
        n = sum(x["requests"] for x in xs)
        return rps, cpu, n, mcpu

    ours = med("lua-omnihuman client:poll")
    say("## 1. Sequential status checks (nginx, fixed JSON, keep-alive, loopback)")
    say("")
    say("best of %d interleaved rounds x %.1f s each (curl CLI: 1 round x %.0f s); CPU = the client process only"
        % (ROUNDS, SECS, curl_secs))
    say("")
    say("| client | requests | requests/s | client CPU s / 10k req | us CPU / req | (median us CPU / req) | ours vs it (req/s) | ours vs it (CPU) |")
    say("|---|---:|---:|---:|---:|---:|---:|---:|")
    figs = {}
    for name in samples:
        rps, cpu, n, mcpu = med(name)
        figs[name] = (rps, cpu)
        ratio = ours[0] / rps
        cratio = cpu / ours[1]
        say("| %s | %d | %.0f | %.3f | %.1f | %.1f | %s | %s |" % (
            name, n, rps, cpu, cpu * 100, mcpu * 100, "-" if name == "lua-omnihuman client:poll" else "%.2fx" % ratio,
            "-" if name == "lua-omnihuman client:poll" else "%.2fx" % cratio))
    say("")
    say("(ratios > 1 mean lua-omnihuman is faster / cheaper)")
    say("")
    say("Ratios to the floor (the easy handle with the same headers) and to lua-omnihuman (%s), "
        "requests/s of the best round:" % LUA)
    say("")
    say("| client | requests/s vs the floor | vs lua-omnihuman |")
    say("|---|---:|---:|")
    for name in samples:
        say("| %s | %.2fx | %.2fx |" % (name, figs[name][0] / figs[SAME_HEADERS][0], figs[name][0] / ours[0]))
    say("")
    peers.say_notes(say)
    h = figs[SAME_HEADERS]
    say("1a' poll req/s vs libcurl easy with the same headers: %.2fx (informational, not a target: "
        "1a is against the bare easy handle)" % (ours[0] / h[0]))
    say("")
    c = figs["libcurl easy, 1 handle (C)"]
    p = figs["python3 http.client+json"]
    target("1a poll req/s >= 0.9x libcurl easy", ours[0] >= 0.9 * c[0], "%.2fx" % (ours[0] / c[0]))
    target("1b poll req/s >= 2x python http.client", ours[0] >= 2 * p[0], "%.2fx" % (ours[0] / p[0]))
