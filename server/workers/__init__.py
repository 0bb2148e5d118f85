"""Every core of one host: `segflow serve --processes N` runs N worker processes on one address, each pinned to a
core, any of which serves any call of any session.

- `address`: the parent claims the address first, so only its own workers share the port (SO_REUSEPORT);
- `supervisor`: starts the workers, relays deploy announcements and their acknowledgements, restarts a worker
  that died, and on SIGTERM stops them in order so that nothing acknowledged is lost;
- `worker`: one worker process: a full `Service` on the host's shared session store (`lmdb://`), shared action
  log (`actionlog`) and the history database every worker writes;
- `actionlog`: the host's one sequence of action events, which subscribers on any worker follow;
- `identity`: each response carries `segflow-worker: <pid>` in its trailing metadata.
"""

from segflow.server.workers.supervisor import serve_workers

__all__ = ["serve_workers"]
