import { CreateEvents1764374400000 } from './1764374400000-create-events';
import { CreateBatches1795910400000 } from './1795910400000-create-batches';
import { AddClockSkew1796027484040 } from './1796027484040-add-clock-skew';
import { PartitionEvents1796033699423 } from './1796033699423-partition-events';

/** Every migration, in order. `npm run migration:generate` writes new ones beside this file: add them here. */
export const MIGRATIONS = [CreateEvents1764374400000, CreateBatches1795910400000, AddClockSkew1796027484040, PartitionEvents1796033699423];
