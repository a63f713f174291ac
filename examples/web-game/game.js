// Target Rush: clear the targets of each level. Every level sends LevelStarted, a Custom TargetHit per target and
// LevelCompleted through @playsmart/client, served by the game's own origin under /client/.
import { createIngestClient } from '/client/index.js';

const LEVELS = [
  { targets: 3, radius: 30 },
  { targets: 4, radius: 24 },
  { targets: 5, radius: 18 },
];

const canvas = document.getElementById('game');
const context = canvas.getContext('2d');
const statusLine = document.getElementById('status');

const config = await (await fetch('/config.json')).json();
// ?flushAt=…&flushIntervalMs=… override the batching the server's client-config suggests.
const query = new URLSearchParams(location.search);
const numberParam = (name) => (query.has(name) ? Number(query.get(name)) : undefined);

let lastProblem = '';
const client = createIngestClient({
  endpoint: config.endpoint,
  gameId: config.gameId,
  userId: config.userId,
  getToken: async () => (await (await fetch('/token')).json()).token,
  flushAt: numberParam('flushAt'),
  flushIntervalMs: numberParam('flushIntervalMs'),
  onBatch: () => showStatus(),
  onDrop: (reason, events) => {
    lastProblem = `dropped ${events.length} (${reason})`;
    showStatus();
  },
  onError: (error) => {
    lastProblem = `${error.kind}: ${error.message}`;
    showStatus();
  },
});

/** Every event tracked by this page: its event_id and type (the browser test reads it). */
const tracked = [];
function track(type, customdata, options) {
  const eventId = client.track(type, customdata, options);
  tracked.push({ eventId, type });
  showStatus();
  return eventId;
}

let round = 1;
let levelIndex = 0;
let targets = [];
let score = 0;
let misses = 0;
let startedAt = 0;
let phase = 'playing'; // or 'cleared': waiting for a click to start the next level

function startLevel() {
  const { targets: count, radius } = LEVELS[levelIndex];
  targets = [];
  while (targets.length < count) {
    const target = {
      x: radius + Math.random() * (canvas.width - 2 * radius),
      y: radius + Math.random() * (canvas.height - 2 * radius),
      radius,
    };
    if (targets.every((other) => Math.hypot(other.x - target.x, other.y - target.y) > 2.2 * radius)) targets.push(target);
  }
  score = 0;
  misses = 0;
  startedAt = performance.now();
  phase = 'playing';
  track('LevelStarted', { level: levelIndex + 1, round });
  draw();
}

function completeLevel() {
  const durationMs = Math.round(performance.now() - startedAt);
  track('LevelCompleted', { level: levelIndex + 1, round, score, misses, duration_ms: durationMs });
  // The end of a level is a good moment to send: nothing is being played.
  void client.flush().then(showStatus);
  phase = 'cleared';
  levelIndex = (levelIndex + 1) % LEVELS.length;
  if (levelIndex === 0) round += 1;
  draw();
}

canvas.addEventListener('click', (event) => {
  if (phase === 'cleared') return startLevel();
  const box = canvas.getBoundingClientRect();
  const x = ((event.clientX - box.left) * canvas.width) / box.width;
  const y = ((event.clientY - box.top) * canvas.height) / box.height;
  const hit = targets.findIndex((target) => Math.hypot(target.x - x, target.y - y) <= target.radius);
  if (hit < 0) {
    misses += 1;
    return;
  }
  targets.splice(hit, 1);
  score += 100 - Math.min(90, Math.round((performance.now() - startedAt) / 100));
  track('Custom', { level: levelIndex + 1, round, score }, { customEventName: 'TargetHit' });
  if (targets.length === 0) completeLevel();
  else draw();
});

function draw() {
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.fillStyle = '#e8eef5';
  context.font = '16px system-ui, sans-serif';
  context.textAlign = 'left';
  context.fillText(`Round ${round} · Level ${levelIndex + 1}/${LEVELS.length} · Score ${score}`, 12, 24);
  if (phase === 'cleared') {
    context.textAlign = 'center';
    context.font = '24px system-ui, sans-serif';
    context.fillText('Level cleared! Click for the next one.', canvas.width / 2, canvas.height / 2);
    return;
  }
  for (const target of targets) {
    for (const [scale, colour] of [
      [1, '#e94f37'],
      [0.6, '#f6f7eb'],
      [0.25, '#e94f37'],
    ]) {
      context.beginPath();
      context.arc(target.x, target.y, target.radius * scale, 0, 2 * Math.PI);
      context.fillStyle = colour;
      context.fill();
    }
  }
}

function showStatus() {
  const { queued, sent, retried, dropped } = client.stats();
  const droppedCount = Object.values(dropped).reduce((sum, count) => sum + count, 0);
  statusLine.textContent =
    `tracked ${tracked.length} · queued ${queued} · sent ${sent} · retried ${retried} · dropped ${droppedCount}` +
    (navigator.onLine ? '' : ' · offline') +
    (lastProblem === '' ? '' : ` · ${lastProblem}`);
}
setInterval(showStatus, 500);
addEventListener('online', showStatus);
addEventListener('offline', showStatus);

// What the browser test reads and clicks: the events tracked, the targets in canvas pixels, the client.
window.webGame = {
  client,
  tracked,
  targets: () => targets.map(({ x, y }) => ({ x, y })),
  state: () => ({ phase, level: levelIndex + 1, round }),
  canvasSize: () => ({ width: canvas.width, height: canvas.height }),
};

track('SessionStarted', { levels: LEVELS.length });
startLevel();
