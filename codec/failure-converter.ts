// The failure converter of every client and worker when payloads are encrypted: an error's message and stack trace go
// into the failure's encodedAttributes, a payload the codec encrypts, and the failure itself says only "Encoded
// failure". Error messages quote payment details (an order id, an amount, a channel's answer); this keeps them out of
// the history in clear too. Loaded by path (DataConverter.failureConverterPath, and bundleWorkflowCode's option of the
// same name): the workflow sandbox builds its own copy, so this file imports nothing but @temporalio/common.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
