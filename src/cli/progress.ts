/**
 * Renders training events: a live bar per epoch on a TTY (stage, epoch, step, loss, validation
 * accuracy, ETA), or one plain line per epoch otherwise.
 */
import cliProgress from 'cli-progress';
import type { RunEvent } from '../run/pipeline.js';
import { validationPercent } from '../report/table.js';

export function progressReporter(stream: NodeJS.WriteStream): (event: RunEvent) => void {
  const interactive = Boolean(stream.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let lastValidation = '—';
  let stageStarted = 0;
  // An LLM teacher's labelling: when it started, and the last tenth a plain line was written for.
  let labelling: { what: string; started: number; fromStore: number; tenth: number } | null = null;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  return (event) => {
    switch (event.type) {
      case 'info':
        stop();
        stream.write(`${event.message}\n`);
        break;
      case 'stage-start':
        lastValidation = '—';
        stageStarted = performance.now();
        stream.write(`stage ${event.stage}: ${event.epochs} epochs × ${event.stepsPerEpoch} steps\n`);
        break;
      case 'step': {
        if (!interactive) break;
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              stream,
              format: '{stage} epoch {epoch}/{epochs} |{bar}| step {value}/{total}  loss {loss}  val {validation}  stage ETA {stageEta}',
              hideCursor: true,
              clearOnComplete: true,
              etaBuffer: 50,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(event.stepsPerEpoch, 0, {
            stage: event.stage,
            epoch: event.epoch,
            epochs: event.epochs,
            loss: '—',
            validation: lastValidation,
            stageEta: '…',
          });
        }
        const done = (event.epoch - 1) * event.stepsPerEpoch + event.step;
        const remaining = event.epochs * event.stepsPerEpoch - done;
        const stageEta = formatSeconds(((performance.now() - stageStarted) / 1000 / done) * remaining);
        bar.update(event.step, { loss: event.loss.toFixed(4), stageEta });
        break;
      }
      case 'epoch': {
        stop();
        // Without a validation set there is no figure to show, so the line leaves it out.
        const validation = validationPercent(event.validationAccuracy);
        lastValidation = validation ?? '—';
        const terms = Object.entries(event.terms)
          .map(([name, value]) => `${name} ${value.toFixed(4)}`)
          .join('  ');
        stream.write(
          `${event.stage} epoch ${String(event.epoch).padStart(String(event.epochs).length)}/${event.epochs}  loss ${event.loss.toFixed(4)}  (${terms})${validation === null ? '' : `  val acc ${validation}`}  ${event.seconds.toFixed(1)}s\n`,
        );
        break;
      }
      case 'labelling': {
        if (labelling?.what !== event.what) {
          stop();
          labelling = { what: event.what, started: performance.now(), fromStore: event.fromStore, tenth: -1 };
        }
        // The ETA counts only what is asked in this run: stored answers come at once.
        const asked = event.done - labelling.fromStore;
        const remaining = event.total - event.done;
        const eta = asked > 0 ? formatSeconds(((performance.now() - labelling.started) / 1000 / asked) * remaining) : '…';
        const tokens = event.tokens.toLocaleString('en-US');
        if (interactive) {
          if (!bar) {
            bar = new cliProgress.SingleBar(
              {
                stream,
                format: 'teacher.llm {what} |{bar}| {value}/{total} texts  {requests} requests  {tokens} tokens  ETA {labelEta}',
                hideCursor: true,
                clearOnComplete: true,
              },
              cliProgress.Presets.shades_classic,
            );
            bar.start(event.total, event.done, { what: event.what, requests: event.requests, tokens, labelEta: eta });
          }
          bar.update(event.done, { requests: event.requests, tokens, labelEta: eta });
          break;
        }
        const tenth = event.total === 0 ? 10 : Math.floor((event.done / event.total) * 10);
        if (tenth > labelling.tenth) {
          labelling.tenth = tenth;
          stream.write(
            `teacher.llm ${event.what}: ${event.done}/${event.total} texts (${event.fromStore} from the store), ${event.requests} requests, ${tokens} tokens sent in this run${remaining > 0 ? `, ETA ${eta}` : ''}\n`,
          );
        }
        break;
      }
      case 'stage-end':
        stop();
        stream.write(`stage ${event.stage} done in ${event.seconds.toFixed(1)} s\n`);
        break;
    }
  };
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60
    ? `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`
    : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
