/**
 * The subset of ONNX's model format (onnx/onnx.proto3) that kdkit writes: one graph of float32
 * tensors with typed attributes, and for exported models their stored weights (initializers, as
 * raw little-endian bytes) and a symbolic batch dimension. Field numbers and names are ONNX's own.
 *
 * Copyright (c) ONNX Project Contributors. Licensed under the Apache License, Version 2.0
 * (SPDX-License-Identifier: Apache-2.0); https://github.com/onnx/onnx/blob/main/LICENSE.
 */
export const onnxSubsetProto = `
syntax = "proto3";
package onnx;

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0;
    FLOAT = 1;
    INT = 2;
    STRING = 3;
    FLOATS = 6;
    INTS = 7;
  }
  string name = 1;
  AttributeType type = 20;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  repeated float floats = 7;
  repeated int64 ints = 8;
}

message ValueInfoProto {
  string name = 1;
  TypeProto type = 2;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  string domain = 7;
  repeated AttributeProto attribute = 5;
}

message ModelProto {
  int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  string producer_name = 2;
  GraphProto graph = 7;
}

message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated TensorProto initializer = 5;
}

message TensorProto {
  repeated int64 dims = 1;
  int32 data_type = 2;
  string name = 8;
  bytes raw_data = 9;
  // Read, never written: where a teacher file keeps a weight outside itself (keys 'location',
  // 'offset', 'length'), when data_location is 1 (EXTERNAL).
  repeated StringStringEntryProto external_data = 13;
  int32 data_location = 14;
}

message StringStringEntryProto {
  string key = 1;
  string value = 2;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    int32 elem_type = 1;
    TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
}

message OperatorSetIdProto {
  string domain = 1;
  int64 version = 2;
}
`;
