// The data converter of every Temporal client and worker of the service, from the configuration's payload keys
// (codec/keys.ts): the encryption codec, and the failure converter that puts error messages and stack traces in
// encrypted payloads too. Undefined when there is no key: the SDK's defaults, payloads in clear.
//
// A worker needs the failure converter inside its workflow bundle as well: pass FAILURE_CONVERTER_PATH to
// bundleWorkflowCode({ failureConverterPath }) when the bundle is built ahead (a Worker given workflowsPath takes it from
// its dataConverter). A bundle built without it still runs, but failures raised in workflow code are then stored with
// their messages in clear.
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec } from './encryption-codec';
import type { PayloadEncryptionConfig } from './keys';

/** The module exporting `failureConverter` (DataConverter.failureConverterPath, bundleWorkflowCode). */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

export function dataConverterFor(config: { payloadEncryption: PayloadEncryptionConfig }): DataConverter | undefined {
  const { mode, keys } = config.payloadEncryption;
  if (keys.length === 0) return undefined;
  if (mode === 'off') {
    // Encrypt nothing new, but keep reading what was encrypted before encryption was turned off. The default failure
    // converter still decodes encoded failure messages; it just does not make new ones.
    return { payloadCodecs: [new EncryptionCodec({ keys, encrypt: false })] };
  }
  return { payloadCodecs: [new EncryptionCodec({ keys })], failureConverterPath: FAILURE_CONVERTER_PATH };
}
