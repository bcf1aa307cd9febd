/**
 * Renders training events: a live bar per epoch on a TTY (stage, epoch, step, loss, validation
 * accuracy, ETA), or one plain line per epoch otherwise.
 */
import cliProgress from 'cli-progress';
import type { RunEvent } from '../train/pipeline.js';

export function progressReporter(stream: NodeJS.WriteStream): (event: RunEvent) => void {
  const interactive = Boolean(stream.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let lastValidation = '—';
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
        stream.write(`stage ${event.stage}: ${event.epochs} epochs × ${event.stepsPerEpoch} steps\n`);
        break;
      case 'step':
        if (!interactive) break;
        if (!bar) {
          bar = new cliProgress.SingleBar({
            stream,
            format: '{stage} epoch {epoch} |{bar}| step {value}/{total}  loss {loss}  val {validation}  ETA {eta_formatted}',
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 50,
          }, cliProgress.Presets.shades_classic);
          bar.start(event.stepsPerEpoch, 0, { stage: event.stage, epoch: event.epoch, loss: '—', validation: lastValidation });
        }
        bar.update(event.step, { epoch: event.epoch, loss: event.loss.toFixed(4) });
        break;
      case 'epoch': {
        stop();
        lastValidation = `${(event.validationAccuracy * 100).toFixed(2)}%`;
        const terms = Object.entries(event.terms).map(([name, value]) => `${name} ${value.toFixed(4)}`).join('  ');
        stream.write(`${event.stage} epoch ${String(event.epoch).padStart(String(event.epochs).length)}/${event.epochs}  loss ${event.loss.toFixed(4)}  (${terms})  val acc ${lastValidation}  ${event.seconds.toFixed(1)}s\n`);
        break;
      }
      case 'stage-end':
        stop();
        stream.write(`stage ${event.stage} done in ${event.seconds.toFixed(1)} s\n`);
        break;
    }
  };
}
