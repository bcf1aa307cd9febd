/** What a run's log and dashboard keep of its events (logs.jsonl, kdkit run --dashboard, kdkit dashboard). */

/**
 * Which run events logs.jsonl and the dashboard keep: not the steps, and of an LLM teacher's
 * labelling, the first and last of each split and one each time another 1 % of its texts is done.
 */
export function keptEvents(): (event: { type: string; what?: string; done?: number; total?: number }) => boolean {
  const lastPercent = new Map<string, number>();
  return (event) => {
    if (event.type === 'step') return false;
    if (event.type !== 'labelling') return true;
    const { what = '', done = 0, total = 0 } = event;
    const percent = total === 0 ? 100 : Math.floor((done * 100) / total);
    const previous = lastPercent.get(what);
    if (previous !== undefined && percent === previous && done !== total) return false;
    lastPercent.set(what, percent);
    return true;
  };
}
