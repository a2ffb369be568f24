#include "textflag.h"

// func mulAddRowsAVX2(w *float64, rows, cols int, x, y *float64)
// For each row i: four partial sums s += w[i,j:j+4]*x[j:j+4] (multiply,
// then add), then y[i] += (s0+s2)+(s1+s3).
TEXT ·mulAddRowsAVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ cols+16(FP), DX
	MOVQ x+24(FP), R9
	MOVQ y+32(FP), DI
	XORQ R10, R10

mulrow:
	CMPQ R10, CX
	JGE  muldone
	VXORPD Y0, Y0, Y0
	XORQ   R8, R8

mulcol:
	CMPQ    R8, DX
	JGE     mulsum
	VMOVUPD (SI)(R8*8), Y1
	VMULPD  (R9)(R8*8), Y1, Y1
	VADDPD  Y1, Y0, Y0
	ADDQ    $4, R8
	JMP     mulcol

mulsum:
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0      // (s0+s2, s1+s3)
	VUNPCKHPD    X0, X0, X1      // s1+s3
	VADDSD       X1, X0, X0      // (s0+s2)+(s1+s3)
	VADDSD       (DI)(R10*8), X0, X0
	VMOVSD       X0, (DI)(R10*8)
	LEAQ         (SI)(DX*8), SI
	INCQ         R10
	JMP          mulrow

muldone:
	VZEROUPPER
	RET

// func backRowsAVX2(w, gw *float64, rows, cols int, d, a, dIn *float64)
// For each row i: gw[i,:] += d[i]*a; then, when dIn is not nil,
// dIn += d[i]*w[i,:] (multiply, then add).
TEXT ·backRowsAVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ gw+8(FP), DI
	MOVQ rows+16(FP), CX
	MOVQ cols+24(FP), DX
	MOVQ d+32(FP), R11
	MOVQ a+40(FP), R9
	MOVQ dIn+48(FP), R12
	XORQ R10, R10

backrow:
	CMPQ         R10, CX
	JGE          backdone
	VBROADCASTSD (R11)(R10*8), Y2
	XORQ         R8, R8

gercol:
	CMPQ    R8, DX
	JGE     gerdone
	VMULPD  (R9)(R8*8), Y2, Y1   // d[i]*a
	VADDPD  (DI)(R8*8), Y1, Y1   // gw + ...
	VMOVUPD Y1, (DI)(R8*8)
	ADDQ    $4, R8
	JMP     gercol

gerdone:
	TESTQ R12, R12
	JZ    nextrow
	XORQ  R8, R8

incol:
	CMPQ    R8, DX
	JGE     nextrow
	VMULPD  (SI)(R8*8), Y2, Y1   // d[i]*w
	VADDPD  (R12)(R8*8), Y1, Y1  // dIn + ...
	VMOVUPD Y1, (R12)(R8*8)
	ADDQ    $4, R8
	JMP     incol

nextrow:
	LEAQ (SI)(DX*8), SI
	LEAQ (DI)(DX*8), DI
	INCQ R10
	JMP  backrow

backdone:
	VZEROUPPER
	RET
