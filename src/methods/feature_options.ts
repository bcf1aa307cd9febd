/** The config fields every feature term shares (see FeatureTermOptions). */
import { z } from 'zod';

export const featureTermFields = {
  student: z.string().min(1),
  teacher: z.string().min(1),
  adapter: z.enum(['auto', 'none']).default('auto'),
};
