// The HTTP ceiling: a bare node:http server that reads each body, parses it as JSON and answers 202. It does no
// authentication, validation or queueing, so nothing built on Node's HTTP stack can answer the same requests faster
// on this machine. Started as a child process by the benchmark; it reports its port over IPC.
import { createServer } from 'node:http';

const ACCEPTED = JSON.stringify({ success: true, message: 'accepted', batch_id: '00000000-0000-4000-8000-000000000000' });

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    let status = 202;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events?: unknown[] };
      if (!Array.isArray(body.events)) status = 400;
    } catch {
      status = 400;
    }
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(ACCEPTED) });
    response.end(ACCEPTED);
  });
});
server.keepAliveTimeout = 72_000;

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 });
});
process.on('disconnect', () => process.exit(0));
