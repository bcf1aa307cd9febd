/**
 * Files read from paths a user gives (configs, models, datasets, teachers, the soft-label store).
 * Each is opened once with O_NONBLOCK, so that opening a FIFO does not wait for a writer; checked
 * with fstat to be a regular file, because a FIFO blocks the read (and with it every signal
 * handler) forever and /dev/zero never ends; and then read through that same descriptor, so the
 * file checked is the file read. A size is checked against the caller's limit before any buffer
 * is allocated for it.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { InputError } from '../errors.js';

/** Node's limit for one read of a whole file (readFileSync's), and protobuf's for an ONNX file. */
export const MAX_WHOLE_FILE_BYTES = 2 ** 31 - 1;

const OPEN_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  ELOOP: 'too many levels of symbolic links',
  ENXIO: 'it is a socket or a device with nothing behind it, not a regular file',
};

/** What a file that is not a regular file is, in words. */
function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isSocket()) return 'a socket';
  return 'something else';
}

/** A regular file open for reading. Errors are InputErrors that start with the caller's `prefix`. */
export class RegularFile {
  private constructor(
    readonly path: string,
    private fd: number | null,
    /** The size when opened; reads stop there even if the file grows. */
    readonly sizeBytes: number,
    private readonly prefix: string,
  ) {}

  /**
   * Opens `path`, refusing anything but a regular file. `prefix` begins every error message, e.g.
   * `model.json: cannot read a TensorFlow.js model` (default: `PATH: cannot read it`).
   */
  static open(path: string, prefix = `${path}: cannot read it`): RegularFile {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      throw new InputError(`${prefix}: ${OPEN_ERRORS[code] ?? (code || (error as Error).message)}`);
    }
    try {
      const stats = fstatSync(fd);
      if (!stats.isFile()) throw new InputError(`${prefix}: it is ${kindOf(stats)}, not a regular file`);
      return new RegularFile(path, fd, stats.size, prefix);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** The descriptor, for positioned reads elsewhere (streamed.ts); the file still owns it. */
  get descriptor(): number {
    if (this.fd === null) throw new Error(`${this.path}: read after close`);
    return this.fd;
  }

  /** Up to `length` bytes from `position`, fewer where the file ends. */
  read(position: number, length: number): Buffer {
    const size = Math.max(0, Math.min(length, this.sizeBytes - position));
    // Not pooled, so `out.buffer` holds this file's bytes only.
    const out = Buffer.allocUnsafeSlow(size);
    let done = 0;
    try {
      while (done < size) {
        const got = readSync(this.descriptor, out, done, size - done, position + done);
        if (got === 0) break;
        done += got;
      }
    } catch (error) {
      throw new InputError(`${this.prefix}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    return out.subarray(0, done);
  }

  /** The whole file; refused before anything is allocated when it is larger than `maxBytes`. */
  readAll(maxBytes: number): Buffer {
    if (this.sizeBytes > maxBytes) throw this.tooLarge(maxBytes);
    return this.read(0, this.sizeBytes);
  }

  /** An InputError saying the file is over `maxBytes`. */
  tooLarge(maxBytes: number): InputError {
    return new InputError(`${this.prefix}: it has ${this.sizeBytes} bytes, more than the ${maxBytes} kdkit reads for it`);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Runs `use` on the opened file and closes it afterwards. */
export function withRegularFile<T>(path: string, prefix: string | undefined, use: (file: RegularFile) => T): T {
  const file = RegularFile.open(path, prefix);
  try {
    return use(file);
  } finally {
    file.close();
  }
}

/** The whole of a regular file of at most `maxBytes`. */
export function readRegularFile(path: string, maxBytes: number, prefix?: string): Buffer {
  return withRegularFile(path, prefix, (file) => file.readAll(maxBytes));
}
