import type { Job } from '../server/worker.js';
import { runDueTransitions } from './engine.js';

/** The flow engine in the worker role: due timers and step status reactions, any number of workers. */
export const flowTransitionsJob: Job = {
  name: 'flow-transitions',
  intervalMs: 500,
  run: (app, signal) => runDueTransitions(app, 100, signal),
};
