/**
 * `UsageError`: the command line itself is wrong (an unknown command or flag, a missing argument, a
 * value that cannot be read). The CLI prints the message and the command's usage on stderr and
 * exits 2, as command-line tools do; any other failure exits 1.
 */
import { ErrorCode, MonitorError } from '../errors.js';

export class UsageError extends MonitorError {
  /** @param command the subcommand whose usage to print (none: the top-level usage) */
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(ErrorCode.InvalidOption, message);
    this.name = 'UsageError';
  }
}
