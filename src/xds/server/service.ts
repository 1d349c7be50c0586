// The gRPC service definition of envoy.service.discovery.v3.AggregatedDiscoveryService,
// built from the protobufjs types Switchyard already loads (no generated code): both
// methods are bidirectional streams (envoy/service/discovery/v3/ads.proto).
import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import { mustLookupType } from '../proto/root';

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** A decoded message as protobufjs gives it (keepCase: proto field names). */
export type Msg = { [k: string]: any };

function method(name: string, req: protobuf.Type, res: protobuf.Type): grpc.MethodDefinition<Msg, Msg> {
  return {
    path: `/${ADS_SERVICE}/${name}`,
    requestStream: true,
    responseStream: true,
    originalName: name,
    requestSerialize: (m: Msg) => Buffer.from(req.encode(req.fromObject(m)).finish()),
    requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), { defaults: false, arrays: true, objects: true, longs: Number }) as Msg,
    responseSerialize: (m: Msg) => Buffer.from(res.encode(res.fromObject(m)).finish()),
    responseDeserialize: (b: Buffer) => res.toObject(res.decode(b), { arrays: true, objects: true, longs: Number }) as Msg,
  };
}

export interface AdsDefinition extends grpc.ServiceDefinition {
  StreamAggregatedResources: grpc.MethodDefinition<Msg, Msg>;
  DeltaAggregatedResources: grpc.MethodDefinition<Msg, Msg>;
}

/** The definition for server.addService (and for test clients via makeGenericClientConstructor). */
export function adsDefinition(): AdsDefinition {
  const t = (n: string) => mustLookupType(`envoy.service.discovery.v3.${n}`);
  return {
    StreamAggregatedResources: method('StreamAggregatedResources', t('DiscoveryRequest'), t('DiscoveryResponse')),
    DeltaAggregatedResources: method('DeltaAggregatedResources', t('DeltaDiscoveryRequest'), t('DeltaDiscoveryResponse')),
  };
}
