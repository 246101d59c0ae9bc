// The operator CLI reads encrypted payloads (a retried call's failure message) through the service's own codec server
// (POST /codec/decode on the API, the admin key the CLI already has), the way the Web UI and `npm run temporal` do:
// an operator's machine needs no payload key.
import type { Payload, PayloadCodec } from '@temporalio/common';
import { JSONToPayload, payloadToJSON } from '@temporalio/common/lib/proto-utils';
import type { PaymentsApi } from './api';

type JsonPayloads = { payloads: ReturnType<typeof payloadToJSON>[] };

export class RemoteCodec implements PayloadCodec {
  constructor(private readonly api: PaymentsApi) {}

  encode(payloads: Payload[]): Promise<Payload[]> {
    return this.send('/codec/encode', payloads);
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return this.send('/codec/decode', payloads);
  }

  private async send(path: string, payloads: Payload[]): Promise<Payload[]> {
    if (payloads.length === 0) return payloads;
    const answer = await this.api.post<JsonPayloads>(path, { payloads: payloads.map(payloadToJSON) });
    return answer.payloads.map(JSONToPayload);
  }
}
