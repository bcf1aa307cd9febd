/** What a training stage reports: a record per epoch, and events as it goes. */

export interface EpochRecord {
  epoch: number;
  /** Mean of the weighted total loss over the epoch's steps. */
  loss: number;
  /** Mean of each unweighted term over the epoch, keyed by term name. */
  terms: Record<string, number>;
  /** Accuracy on the validation split (NaN without one). */
  validationAccuracy: number;
  /** Mean cross-entropy of the student with the validation labels, when there is a validation split. */
  validationLoss?: number;
  seconds: number;
  /** Values terms report at the epoch's end, keyed `term.name`, e.g. `ctkd.temperature`. */
  state?: Record<string, number>;
}

export type TrainEvent =
  | { type: 'stage-start'; stage: string; epochs: number; stepsPerEpoch: number }
  | { type: 'step'; stage: string; epoch: number; epochs: number; step: number; stepsPerEpoch: number; loss: number }
  | ({ type: 'epoch'; stage: string; epochs: number } & EpochRecord)
  | { type: 'stage-end'; stage: string; seconds: number }
  | { type: 'info'; message: string };
