// Loaded into every unit-test process by scripts/run-tests.mjs (NODE_OPTIONS=--import=…): unit tests need no Redis
// and no PostgreSQL, so a connection to either's port (or PostgreSQL's Unix socket) is refused here, loudly. A test
// that needs one of them is an end-to-end test: it belongs in test/*.e2e-spec.ts. Servers a test starts itself, on
// ports of their own, are reachable as usual.
import net from 'node:net';

const SERVICES = new Map([
  [6379, 'Redis'],
  [5432, 'PostgreSQL'],
]);
const connect = net.Socket.prototype.connect;
let refused = 0;

net.Socket.prototype.connect = function (...args) {
  // socket.connect(options[, cb]), connect(port[, host][, cb]), connect(path[, cb]); net.connect() passes its
  // normalized arguments as one array.
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const options =
    typeof first === 'object' && first !== null
      ? first
      : typeof first === 'string' && !/^\d+$/.test(first)
        ? { path: first }
        : { port: first, host: typeof args[1] === 'string' ? args[1] : undefined };
  const service =
    typeof options.path === 'string' && options.path.includes('.s.PGSQL.') ? 'PostgreSQL' : SERVICES.get(Number(options.port));
  if (service !== undefined) {
    refused += 1;
    const where = options.path ?? `${options.host ?? 'localhost'}:${options.port}`;
    const error = new Error(
      `a unit test connected to ${service} (${where}): unit tests run without services. ` +
        'Move the test that needs it to an end-to-end file, test/*.e2e-spec.ts (scripts/no-services.mjs).',
    );
    process.stderr.write(`${error.stack}\n`);
    throw error;
  }
  return connect.apply(this, args);
};

// The client that got the error may swallow it (a Redis client retries, an error listener ignores it): the file fails
// all the same.
process.on('exit', (code) => {
  if (refused > 0 && code === 0) process.exitCode = 1;
});
