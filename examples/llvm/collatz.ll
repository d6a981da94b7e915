; collatz.ll: LLVM IR for wasm32. Input N (decimal), output the number of Collatz steps from N
; down to 1: "27" -> "111". Written by hand to show the ABI: `handler(i8*, i32) -> i32` and
; sb_output imported from the "springbok" module (doc/c.md shows how to get such IR from C).
target datalayout = "e-m:e-p:32:32-p10:10:64-p20:20:64-i64:64-n32:64-S128-ni:1:10:20"
target triple = "wasm32-unknown-wasi"

@format = private constant [3 x i8] c"%d\00"

declare void @sb_output(i8*, i32) #0
declare i32 @atoi(i8*)
declare i32 @snprintf(i8*, i32, i8*, ...)

define i32 @handler(i8* %input, i32 %len) {
entry:
  %text = alloca [16 x i8]
  %start = call i32 @atoi(i8* %input)
  br label %loop

loop:
  %n = phi i32 [ %start, %entry ], [ %next, %step ]
  %steps = phi i32 [ 0, %entry ], [ %steps.next, %step ]
  %reached = icmp sle i32 %n, 1
  br i1 %reached, label %done, label %step

step:
  %low = and i32 %n, 1
  %odd = icmp ne i32 %low, 0
  %half = sdiv i32 %n, 2
  %triple = mul i32 %n, 3
  %triple.plus = add i32 %triple, 1
  %next = select i1 %odd, i32 %triple.plus, i32 %half
  %steps.next = add i32 %steps, 1
  br label %loop

done:
  %buffer = getelementptr [16 x i8], [16 x i8]* %text, i32 0, i32 0
  %pattern = getelementptr [3 x i8], [3 x i8]* @format, i32 0, i32 0
  %written = call i32 (i8*, i32, i8*, ...) @snprintf(i8* %buffer, i32 16, i8* %pattern, i32 %steps)
  call void @sb_output(i8* %buffer, i32 %written)
  ret i32 0
}

attributes #0 = { "wasm-import-module"="springbok" "wasm-import-name"="output" }
