import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { parentPort, workerData } from 'node:worker_threads';
import { createPinoLogger, describeError, Metrics, PinoLoggerService } from '#platform';
import { WriterThreadModule } from './writer-thread.module';
import type { FromWriterThread, ToWriterThread, WriterThreadData } from './writer-thread.protocol';

/** The all-in-one's writer thread, started by WriterThread: the queue worker, until the main thread says close. */
async function run(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('writer-thread.main runs as a worker thread of the all-in-one (WriterThread starts it)');
  const { config } = workerData as WriterThreadData;
  const send = (message: FromWriterThread): void => port.postMessage(message);
  const app = await NestFactory.createApplicationContext(WriterThreadModule.of(config), {
    logger: new PinoLoggerService(createPinoLogger(config, 'PlaySmartIngest')),
    abortOnError: false,
  });
  const metrics = app.get(Metrics);
  port.on('message', (message: ToWriterThread) => {
    switch (message.type) {
      case 'metrics':
        metrics.ownCounts().then(
          (values) => send({ type: 'metrics', id: message.id, values }),
          () => send({ type: 'metrics', id: message.id, values: undefined }),
        );
        break;
      case 'close':
        // The worker finishes its active jobs first (BatchWorker.beforeApplicationShutdown).
        app
          .close()
          .then(() => metrics.ownCounts().catch(() => undefined))
          .then(
            (values) => send({ type: 'closed', values }),
            (error: unknown) => send({ type: 'failed', error: `closing failed: ${describeError(error)}` }),
          );
        break;
    }
  });
  send({ type: 'started' });
}

run().catch((error: unknown) => {
  parentPort?.postMessage({ type: 'failed', error: describeError(error) } satisfies FromWriterThread);
});
