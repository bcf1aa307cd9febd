/** How the report's confusion matrix names the classes on its axes (charts.ts draws it, html.ts's per-class table follows it). */

/** Beyond this many classes the confusion matrix's axes show class indices, not names. */
export const CONFUSION_NAMED_CLASSES = 20;
/** Average glyph width of the axis labels' 11 px font, to tell whether names fit under their column. */
const LABEL_CHAR_PX = 6.5;

/** The side of the confusion matrix's square, in pixels: 30 a class, at least 240, at most 720 (9.4 px a class for Banking77's 77). */
export function confusionSide(classes: number): number {
  return Math.min(720, Math.max(240, 30 * classes));
}

/**
 * How the confusion matrix's axes name the classes: the names upright when each fits under its
 * column; rotated 45° (cut at 110 px) up to CONFUSION_NAMED_CLASSES classes; past that, the class
 * indices (0, 1, …), upright on the y axis and at 90° on the x axis. Every label carries the full
 * name as its tooltip (withAxisTooltips), and the per-class table gives the names in full.
 */
export function confusionAxes(labels: readonly string[]): { axisLabels: string[]; indices: boolean; xAngle: number } {
  const cell = confusionSide(labels.length) / labels.length;
  if (labels.every((label) => label.length * LABEL_CHAR_PX <= cell)) return { axisLabels: [...labels], indices: false, xAngle: 0 };
  if (labels.length <= CONFUSION_NAMED_CLASSES) return { axisLabels: [...labels], indices: false, xAngle: -45 };
  return { axisLabels: labels.map((_, index) => String(index)), indices: true, xAngle: -90 };
}
