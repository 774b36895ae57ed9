"""Run the upstream simulator: `python -m integrations.simulator --port N [--seed S]
[--catalog PATH] [--books PATH] [--state PATH [--reset-state]]
[--traces RING [--trace-share F] [--otlp-endpoint URL]]`.

`--books` reads the prices and stock the store was seeded with (`catalog.py`): the PIM
and the ERP answer those for the SKUs they list.

`--state` keeps what the systems of record recorded (payments, captures, ERP exports)
in a SQLite file that outlives the process (`state.py`); `--reset-state` empties it
first. Without it, the state lives in memory.


`--traces` turns tracing on: each answer is a span continuing the caller's trace, kept
by the same rules as the store's (errors, slow, the sampled share, and every part of a
trace the caller sampled) in the stack's ring file, or sent to `--otlp-endpoint`.

`--catalog` reads a catalog snapshot (JSON from `devstack.snapshot`), so stock,
prices, recommendations and reviews speak of the seeded store's products; without it
they are generated from each slug or SKU and the seed.

Prints one line, `simulator listening on http://HOST:PORT`, once it accepts connections
(with `--port 0` the system picks a free port and the line says which).
"""

import argparse
import signal
from pathlib import Path
from types import FrameType

from integrations.simulator.catalog import SimCatalog
from integrations.simulator.server import SimulatorServer
from integrations.simulator.state import SimState
from toolkit.tracing.setup import TracingConfig, tracing_configure


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m integrations.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--seed", type=int, default=0, help="seed of every fault stream")
    parser.add_argument("--catalog", type=Path, help="catalog snapshot (JSON) to answer from")
    parser.add_argument("--books", type=Path, help="prices and stock the PIM and ERP start from")
    parser.add_argument("--state", type=Path, help="SQLite file that keeps what was recorded")
    parser.add_argument(
        "--reset-state", action="store_true", help="forget everything the state file holds"
    )
    parser.add_argument("--traces", type=Path, help="trace ring file (tracing on when given)")
    parser.add_argument("--trace-share", type=float, default=0.01, help="share of new traces kept")
    parser.add_argument("--otlp-endpoint", default="", help="send kept traces here instead")
    args = parser.parse_args(argv)
    if args.traces:
        tracing_configure(
            TracingConfig(
                service_name="simulator",
                sample_share=args.trace_share,
                ring_path=args.traces,
                otlp_endpoint=args.otlp_endpoint,
            )
        )

    catalog = SimCatalog.load(args.catalog, seed=args.seed, books=args.books)
    state = SimState(args.state)
    if args.reset_state:
        state.forget()
    server = SimulatorServer((args.host, args.port), seed=args.seed, catalog=catalog, state=state)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    # SIGTERM unwinds serve_forever like Ctrl-C does; request threads are daemons. SIGINT
    # too, explicitly: a process started in the background (`&` in a script, nohup)
    # inherits SIGINT ignored, and Python then installs no handler of its own.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"simulator listening on {server.url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        state.close()


if __name__ == "__main__":
    main()
